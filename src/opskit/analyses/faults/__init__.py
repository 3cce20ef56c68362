"""Fault finding in job logs: the signature catalogue, the scan and its ranking, the verdicts on a scan, and the
details of CUDA OOM, NCCL, torchrun and Xid messages."""
