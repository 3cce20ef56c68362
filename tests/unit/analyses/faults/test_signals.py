"""Signals and exit codes by what they mean: SIGKILL in any locale reads as the OOM killer when nothing else
explains it; SIGTERM, SIGHUP, preemption and eviction notices do not; memory-pressure evictions are host OOM.

The localized lines are the shell's own words for SIGKILL (glibc's translations of "Killed"), copied from
public shell transcripts: a job-control line ``[1]+  <word>  <command>`` or the word alone.
"""

from __future__ import annotations

import pytest

from opskit.analyses.faults.catalogue import classify_line
from opskit.analyses.faults.scan import scan
from opskit.analyses.faults.signals import is_sigkill

LOCALIZED_KILLS = [
    "[1]+  Killed                  python3 t2.py",  # C / English
    "[1]+  Getötet                ./a.out",  # de_DE
    "[1]+  Processus arrêté      ./date-toto.sh",  # fr_FR
    "[1]+  Terminado (killed)      sleep 100",  # es_ES
    "[1]+  已杀死               nohup java -jar dlfc-framework-bigdata-statistical-1.0-SNAPSHOT.jar",  # zh_CN
    "[1]+  Убито              python test_write.py",  # ru_RU
    "[1]+  強制終了            ./swap 6000",  # ja_JP: a process that had eaten 92.7 % of memory
    "Убито",
    "已杀死",
    "Terminado (killed)",
]


@pytest.mark.parametrize("line", LOCALIZED_KILLS)
def test_the_shells_killed_in_every_locale_is_a_sigkill(line):
    found = classify_line(line)
    assert found is not None and found.name == "killed_preempted" and is_sigkill(line)


@pytest.mark.parametrize("line", LOCALIZED_KILLS[:7])
def test_a_localized_kill_with_nothing_else_reads_as_host_oom(tmp_path, line):
    log = tmp_path / "job.log"
    log.write_text(f"Epoch: [0][511/1736]\t Loss 0.5117 MAE 0.6075\n{line}\n", encoding="utf-8")
    root = scan(log).root_cause
    assert (root.fault, root.line) == ("host_oom", 2) and "inferred" in root.details
    assert scan(log).counts == {"host_oom": 1}


@pytest.mark.parametrize(
    "line",
    [
        "[1]+  Terminated              python3 -m http.server 8080",
        "[1]+  已终止               ./a.out",  # zh_CN: SIGTERM
        "WARNING:torch.distributed.elastic.agent.server.api:Received 1 death signal, shutting down workers",
        "Dec 17 16:03:58Z worker-1 start-worker 2024/12/17 16:03:58 GCP Metadata Service says termination is imminent",
        "    Last State:     Terminated  Reason: Error  Exit Code:    143",
    ],
)
def test_sigterm_sighup_and_preemption_notices_stay_kills(tmp_path, line):
    log = tmp_path / "job.log"
    log.write_text(f"{line}\n[1]+  Killed                  python train.py\n")
    assert {f.fault for f in scan(log).findings} == {"killed_preempted"}


def test_words_that_contain_killed_are_not_a_shell_kill():
    assert classify_line("Killed mutants: 12 of 40") is None
    assert not is_sigkill("  Reason: OOMKilled")


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        # kubeflow/trainer#301 and FederatedAI/KubeFATE#64: evicted for memory is the host running out of it
        ("Message:        The node was low on resource: memory.", "host_oom"),
        (
            "4m11s  Warning   Evicted   pod/egg-1   The node was low on resource: memory. Container egg was using "
            "5053216Ki, which exceeds its request of 0.",
            "host_oom",
        ),
        ("4m7s  Warning   Evicted   pod/egg-2   The node had condition: [MemoryPressure].", "host_oom"),
        ("Message:  The node was low on resource: ephemeral-storage. Container x was using 12Gi", "disk_full"),
        (
            "slurmstepd: error: Detected 2 oom_kill events in StepId=17.13. Some of the step tasks have been "
            "OOM Killed.",
            "host_oom",
        ),
        ("srun: error: node7: task 0: Out Of Memory", "host_oom"),
        ("  Reason: Evicted", "killed_preempted"),
    ],
)
def test_evictions_and_slurm_oom_lines_by_what_ran_out(line, fault):
    found = classify_line(line)
    assert found is not None and found.name == fault


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        (
            "[E socket.cpp:860] [c10d] The client socket has timed out after 60s while trying to connect to "
            "10.0.0.1:1234",
            "nccl_error",
        ),
        ("RuntimeError: connect() timed out. Original timeout was 60000 ms.", "nccl_error"),
        (
            "NVRM: nvCheckOkFailedNoLog: Check failed: GPU lost from the bus [NV_ERR_GPU_IS_LOST] (0x0000000F)",
            "gpu_hardware",
        ),
        (
            "ImportError: libtorch_cpu.so: cannot open shared object file: No such file or directory",
            "cuda_version_mismatch",
        ),
        (
            "ImportError: libc10_cuda.so: cannot open shared object file: No such file or directory",
            "cuda_version_mismatch",
        ),
    ],
)
def test_rendezvous_lost_gpus_and_missing_framework_libraries(line, fault):
    found = classify_line(line)
    assert found is not None and found.name == fault


@pytest.mark.parametrize(
    "line",
    [
        "ip-172-31-0-137:14605:14673 [0] misc/ibvwrap.cc:63 NCCL WARN Failed to open libibverbs.so[.1]",
        "node1:2:2 [0] NCCL WARN NET/IB : No device found.",
    ],
)
def test_nccl_falling_back_to_sockets_is_harmless(line):
    assert classify_line(line) is None
    assert classify_line("node1:2:2 [0] misc/socket.cc:483 NCCL WARN socketStartConnect: Connect failed").name == (
        "nccl_error"
    )


def test_the_oom_kill_record_is_the_evidence_rather_than_the_kill_it_explains(tmp_path):
    # ArjunaCluster/ArjunaUsers#52: the shell's Killed line, then Slurm's cgroup record of the OOM kill
    log = tmp_path / "slurm.err"
    log.write_text(
        "/var/spool/slurmd/job00191/slurm_script: line 28:  8156 Killed                  python3 main.py\n"
        "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=191.batch cgroup.\n"
    )
    result = scan(log)
    assert [(f.fault, f.line) for f in result.findings] == [("host_oom", 2), ("host_oom", 1)]


@pytest.mark.parametrize(
    "line",
    [
        # SIGBUS: what PyTorch itself reports as insufficient shared memory (tloen/alpaca-lora#338,
        # msr-fiddle/pipedream#76, open-mmlab/mmsegmentation#3186)
        "ERROR:torch.distributed.elastic.multiprocessing.api:failed (exitcode: -7) local_rank: 0 (pid: 34367)",
        "  traceback : Signal 7 (SIGBUS) received by PID 3112",
        "[8d6bf97c3bf4:3039 :0:3095] Caught signal 7 (Bus error: nonexistent physical address)",
        "RuntimeError: DataLoader worker (pid 325) is killed by signal: Bus error.",
        "Bus error (core dumped)",
    ],
)
def test_a_bus_error_is_shared_memory_running_out(line):
    found = classify_line(line)
    assert found is not None and found.name == "host_oom"


def test_the_launchers_failure_line_is_the_evidence_before_the_entries_of_its_report(tmp_path):
    # tloen/alpaca-lora#338: the entries carry times, the launcher's first line does not
    log = tmp_path / "launcher.log"
    entry = "  time      : 2023-04-14_06:35:35\n  host      : 32a68c302449\n"
    log.write_text(
        "ERROR:torch.distributed.elastic.multiprocessing.api:failed (exitcode: -7) local_rank: 0\n"
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n"
        "Failures:\n[1]:\n" + entry + "  rank      : 1 (local_rank: 1)\n  exitcode  : -7 (pid: 3112)\n"
        "  error_file: <N/A>\n  traceback : Signal 7 (SIGBUS) received by PID 3112\n"
        "Root Cause (first observed failure):\n[0]:\n" + entry + "  rank      : 0 (local_rank: 0)\n"
        "  exitcode  : -7 (pid: 3111)\n  error_file: <N/A>\n  traceback : Signal 7 (SIGBUS) received by PID 3111\n"
    )
    root = scan(log).root_cause
    assert (root.fault, root.line) == ("host_oom", 1)


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        # deepspeedai/DeepSpeed#3232, AHupuJR/EFNet#9: launchers that name the signal of a dead worker
        (
            "[ERROR] [launch.py:434:sigkill_handler] ['/usr/bin/python3', '-u', 'main.py'] exits with return code = -9",
            "host_oom",
        ),
        ("subprocess.CalledProcessError: Command '['python', 'train.py']' died with <Signals.SIGKILL: 9>.", "host_oom"),
        # a segmentation fault (deepspeedai/DeepSpeedExamples#626) or an abort is a crash, not a kill
        (
            "[ERROR] [launch.py:324:sigkill_handler] ['python3', '-u', 'trainCLM.py'] exits with return code = -11",
            "worker_failed",
        ),
        (
            "subprocess.CalledProcessError: Command '['python', 'train.py']' died with <Signals.SIGABRT: 6>.",
            "worker_failed",
        ),
        ("subprocess.CalledProcessError: Command '['python', 'train.py']' died with <Signals.SIGBUS: 7>.", "host_oom"),
    ],
)
def test_launchers_report_of_the_signal_is_read_by_its_meaning(tmp_path, line, fault):
    log = tmp_path / "launcher.log"
    log.write_text(line + "\n")
    assert scan(log).root_cause.fault == fault


def test_a_sigterm_from_the_launcher_stays_a_kill(tmp_path):
    log = tmp_path / "launcher.log"
    log.write_text("[ERROR] [launch.py:434:sigkill_handler] ['python3', 'main.py'] exits with return code = -15\n")
    assert scan(log).root_cause.fault == "killed_preempted"


# The bundled word lists hold the message catalogues' own translations (glibc libc.mo and bash bash.mo, Debian 12):
# the shell's report after a script's line number and PID, as bash prints it for a job it started.
@pytest.mark.parametrize(
    ("word", "fault"),
    [
        ("Ucciso", "host_oom"),  # it: glibc and bash
        ("Morto", "host_oom"),  # pt, pt_BR (glibc)
        ("Morto (Killed)", "host_oom"),  # pt_BR (bash)
        ("죽었음", "host_oom"),  # ko
        ("Unicestwiony", "host_oom"),  # pl
        ("強制結束", "host_oom"),  # zh_TW
        ("Zabit (SIGKILL)", "host_oom"),  # cs (glibc)
        ("Terminato", "killed_preempted"),  # it: SIGTERM
        ("Beendet", "killed_preempted"),  # de: SIGTERM
        ("종료됨", "killed_preempted"),  # ko: SIGTERM
    ],
)
def test_a_script_line_in_any_language_tells_sigkill_from_sigterm(tmp_path, word, fault):
    log = tmp_path / "job.log"
    log.write_text(f"step 120 loss 2.31\n/opt/job/run.sh: line 14: 88123 {word}   python train.py --bs 64\n")
    for engine in ("re", "hyperscan"):
        root = scan(log, engine=engine).root_cause
        assert (root.fault, root.line) == (fault, 2), engine


def test_a_bare_word_for_sigterm_alone_on_a_line_is_not_a_kill():
    # "Beendet" (de: finished) or "Terminé" (fr: done) alone on a line is what many programs print
    assert classify_line("Beendet") is None and classify_line("Terminé") is None


def test_the_word_lists_are_the_catalogues_and_every_pattern_names_a_known_one(tmp_path):
    from opskit.analyses.faults.catalogue import load_catalogue
    from opskit.errors import InputError

    bundled = load_catalogue()
    assert {"Killed", "Ucciso", "죽었음"} <= set(bundled.word_list("killed"))
    assert "Terminated" in bundled.word_list("terminated") and "Terminado" not in bundled.word_list("killed")
    bad = tmp_path / "catalogue.yaml"
    bad.write_text("classes:\n  x:\n    meaning: m\n    next_step: n\n    patterns: ['line <<killd>>']\n")
    with pytest.raises(InputError, match="unknown word list <<killd>>"):
        load_catalogue(bad)
