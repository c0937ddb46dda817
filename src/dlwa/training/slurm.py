"""``dlwa train … --slurm``: the same training command as a SLURM batch job.

The job script starts one ``torchrun`` per node with ``srun``; torchrun starts one process
per GPU and they meet at the first node (c10d rendezvous), so the training command inside
is exactly the one the user typed, minus the SLURM flags. A requeued or resubmitted job
continues the run (``--resume`` is added once the run's state file exists). ``--submit``
hands the script to ``sbatch``.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# SLURM flag → does it take a value (removed from the command the job runs).
SLURM_FLAGS = {"--slurm": False, "--submit": False, "--nodes": True, "--gpus-per-node": True,
               "--time": True, "--partition": True, "--account": True,
               "--cpus-per-task": True}
RENDEZVOUS_PORT = 29500


def add_slurm_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "SLURM cluster (write a batch job that runs this command with srun torchrun)")
    group.add_argument("--slurm", action="store_true",
                       help="write <out>.sbatch instead of training here")
    group.add_argument("--submit", action="store_true", help="also submit it with sbatch")
    group.add_argument("--nodes", type=int, default=1)
    group.add_argument("--gpus-per-node", type=int, default=1,
                       help="processes per node (0: CPU only, one process)")
    group.add_argument("--time", default="24:00:00", help="job time limit")
    group.add_argument("--partition", default=None)
    group.add_argument("--account", default=None)
    group.add_argument("--cpus-per-task", type=int, default=None,
                       help="CPU cores per node (default: 4 per GPU)")


def training_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` without the SLURM flags (``--nodes 2`` and ``--nodes=2`` forms)."""
    kept: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in SLURM_FLAGS:
            skip = SLURM_FLAGS[name] and "=" not in token
            continue
        kept.append(token)
    return kept


def job_script(args: argparse.Namespace, argv: Sequence[str], *, state_file: str,
               python: str = sys.executable) -> str:
    """The sbatch script that runs ``dlwa <argv>`` (SLURM flags removed) on the cluster."""
    out = Path(args.out).expanduser().resolve()
    command = [arg for arg in training_argv(argv) if arg != "--resume"]
    gpus = max(0, args.gpus_per_node)
    per_node = max(1, gpus)
    cpus = args.cpus_per_task or 4 * per_node
    if gpus and "--device" not in " ".join(command):
        command += ["--device", "cuda"]
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name=dlwa-{args.model_name}",
        f"#SBATCH --nodes={args.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --cpus-per-task={cpus}",
        f"#SBATCH --time={args.time}",
        f"#SBATCH --output={out}.%j.log",
        "#SBATCH --signal=TERM@120",  # two minutes before the limit: save and stop
    ]
    if gpus:
        lines.append(f"#SBATCH --gpus-per-node={gpus}")
    if args.partition:
        lines.append(f"#SBATCH --partition={args.partition}")
    if args.account:
        lines.append(f"#SBATCH --account={args.account}")
    torchrun = [python, "-m", "torch.distributed.run", f"--nnodes={args.nodes}",
                f"--nproc_per_node={per_node}", "--rdzv_backend=c10d",
                '--rdzv_id="$SLURM_JOB_ID"', f'--rdzv_endpoint="$head_node:{RENDEZVOUS_PORT}"',
                "-m", "dlwa"]
    quoted = " ".join(t if t.startswith("--rdzv_") else shlex.quote(t) for t in torchrun)
    lines += [
        "set -euo pipefail",
        "# The first node hosts the rendezvous; every node runs one torchrun.",
        'nodes=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))',
        'head_node=${nodes[0]}',
        "resume=()",
        f"if [ -f {shlex.quote(str(out / state_file))} ]; then resume=(--resume); fi",
        f"srun {quoted} {shlex.join(command)} \"${{resume[@]}}\"",
        "",
    ]
    return "\n".join(lines)


def write_job(args: argparse.Namespace, argv: Sequence[str], *, state_file: str) -> Path:
    """Write ``<out>.sbatch`` (and submit it with ``--submit``); returns its path.

    Raises:
        RuntimeError: ``sbatch`` is missing or refuses the job.
    """
    from dlwa.training.output import check_output

    if not args.resume:  # a job that would refuse its --out fails now, not in the queue
        check_output(args.out, kind=args.model_name, state_file=state_file, resume=False,
                     force=args.force)
    out = Path(args.out).expanduser().resolve()
    script = out.with_name(out.name + ".sbatch")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(job_script(args, argv, state_file=state_file))
    script.chmod(0o755)
    print(f"wrote {script}: {args.nodes} node(s) x {max(1, args.gpus_per_node)} process(es)")
    if args.submit:
        try:
            done = subprocess.run(["sbatch", str(script)], check=False, capture_output=True,
                                  text=True)
        except FileNotFoundError:
            raise RuntimeError("--submit: sbatch is not on PATH (is this a SLURM login "
                               f"node?); submit {script} yourself") from None
        if done.returncode != 0:
            raise RuntimeError(f"sbatch refused {script}: {done.stderr.strip()}")
        print(done.stdout.strip())
    else:
        print(f"submit it with: sbatch {script}")
    return script
