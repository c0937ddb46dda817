"""`dlwa train … --slurm` writes a job script that bash accepts and that runs
`srun torchrun … -m dlwa train …` (checked with stand-ins for srun, scontrol and sbatch)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from training_helpers import dlwa, environment

STAND_IN = """#!/bin/bash
printf '%s\\n' "$@" > "{log}"
{extra}
"""


def stand_ins(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """srun, scontrol and sbatch that record their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, extra in [("srun", ""), ("scontrol", "echo node-a; echo node-b"),
                        ("sbatch", "echo 'Submitted batch job 4242'")]:
        tool = bin_dir / name
        tool.write_text(STAND_IN.format(log=tmp_path / f"{name}.args", extra=extra))
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    env = environment(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                      SLURM_JOB_ID="4242", SLURM_JOB_NODELIST="node-[a-b]")
    return bin_dir, env


def test_slurm_script_runs_torchrun_with_the_training_command(tmp_path: Path) -> None:
    _, env = stand_ins(tmp_path)
    done = dlwa("train", "ddsp", "data/violin", "--out", "runs/violin", "--steps", "5000",
                "--slurm", "--nodes", "2", "--gpus-per-node", "4", "--time", "08:00:00",
                "--partition", "gpu", cwd=tmp_path, env=env)
    script = tmp_path / "runs" / "violin.sbatch"
    assert f"wrote {script}" in done.stdout and "sbatch" in done.stdout
    assert not (tmp_path / "runs" / "violin").exists()  # nothing trained here
    text = script.read_text()
    for line in ["#SBATCH --nodes=2", "#SBATCH --gpus-per-node=4", "#SBATCH --time=08:00:00",
                 "#SBATCH --partition=gpu", "#SBATCH --ntasks-per-node=1"]:
        assert line in text.splitlines()
    subprocess.run(["bash", "-n", str(script)], check=True)
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, check=True)
    launched = (tmp_path / "srun.args").read_text().splitlines()
    python, *rest = launched
    assert Path(python).name.startswith("python")
    assert rest[:2] == ["-m", "torch.distributed.run"]
    assert "--nnodes=2" in rest and "--nproc_per_node=4" in rest
    assert "--rdzv_backend=c10d" in rest and "--rdzv_id=4242" in rest
    assert "--rdzv_endpoint=node-a:29500" in rest
    command = rest[rest.index("dlwa") - 1:]
    assert command == ["-m", "dlwa", "train", "ddsp", "data/violin", "--out", "runs/violin",
                       "--steps", "5000", "--device", "cuda"]


def test_a_resubmitted_job_resumes_and_submit_calls_sbatch(tmp_path: Path) -> None:
    _, env = stand_ins(tmp_path)
    args = ["train", "melody_rnn", "midi", "--out", "m", "--slurm", "--gpus-per-node", "0",
            "--nodes=1", "--submit"]
    done = dlwa(*args, cwd=tmp_path, env=env)
    script = tmp_path / "m.sbatch"
    assert "Submitted batch job 4242" in done.stdout
    assert (tmp_path / "sbatch.args").read_text().split() == [str(script)]
    assert "--gpus-per-node" not in script.read_text()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "training_state.pt").write_bytes(b"state")
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, check=True)
    launched = (tmp_path / "srun.args").read_text().splitlines()
    assert "--nproc_per_node=1" in launched and "--device" not in launched
    assert launched[-3:] == ["--out", "m", "--resume"]


def test_submit_without_sbatch_is_one_line(tmp_path: Path) -> None:
    env = environment(PATH="/usr/bin:/bin")
    done = dlwa("train", "ddsp", "d", "--out", "x", "--slurm", "--submit", cwd=tmp_path,
                env=env, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "sbatch is not on PATH" in done.stderr
    assert (tmp_path / "x.sbatch").is_file()
