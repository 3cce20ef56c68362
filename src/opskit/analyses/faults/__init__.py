"""Fault finding in job logs: the signature catalogue, the scan, and the details of CUDA OOM, NCCL, torchrun, Xid."""
