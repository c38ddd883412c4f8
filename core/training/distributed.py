"""Data-parallel training over several processes, GPUs or machines: ``tailor train ... --distributed`` under
``torchrun``.

torchrun starts one process per GPU (or per CPU worker) and gives each its rank in the environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``). Every process trains a
:class:`~torch.nn.parallel.DistributedDataParallel` copy of the model on its shard of the training images (a
:class:`~torch.utils.data.DistributedSampler`; ``--batch-size`` is per process), gradients are averaged across
processes each step. Rank 0 alone writes to the catalog and the run folder (the run, its epochs, checkpoints, the
final scores) and evaluates; the other ranks read the run rank 0 created. NCCL joins CUDA processes, gloo CPU ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.base.errors import TailorError


@dataclass(frozen=True)
class Group:
    rank: int
    world: int
    local_rank: int
    backend: str

    @property
    def main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher that sets the same variables)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def env_rank() -> int:
    return int(os.environ.get("RANK", "0"))


def require_launched() -> None:
    if not launched():
        raise TailorError(
            "--distributed runs under torchrun, e.g. torchrun --nproc-per-node 2 -m core.cli train "
            "CATALOG -a ATTRIBUTE --distributed"
        )


def start(device: str) -> Group:
    """Join the process group torchrun set up (``device`` ``cpu`` forces gloo)."""
    require_launched()
    cuda = device != "cpu" and torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Group(dist.get_rank(), dist.get_world_size(), local_rank, backend)


def device_of(group: Group, device: torch.device) -> torch.device:
    return torch.device("cuda", group.local_rank) if device.type == "cuda" else device


def share_int(value: int, group: Group) -> int:
    """Rank 0's ``value`` on every rank."""
    tensor = torch.tensor([value], dtype=torch.int64, device=_comm_device(group))
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def sum_floats(values: list[float], group: Group) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=_comm_device(group))
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_to_main(value: object, group: Group) -> list | None:
    """Every rank's ``value`` (any picklable object), in rank order, on rank 0; None on the others."""
    gathered: list | None = [None] * group.world if group.main else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def barrier(group: Group) -> None:
    if group.backend == "nccl":
        dist.barrier(device_ids=[group.local_rank])
    else:
        dist.barrier()


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _comm_device(group: Group) -> torch.device:
    return torch.device("cuda", group.local_rank) if group.backend == "nccl" else torch.device("cpu")
