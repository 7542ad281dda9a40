"""Planning: jobs -> tasks, each task the unit of work a worker runs at once."""

from __future__ import annotations

from muse_cli.batch.jobs import Job

OTHER_PER_TASK = 4  # decode and interpolate jobs per task


def plan_tasks(jobs: list[Job], batch_size: int) -> list[list[Job]]:
    """Tasks: compatible sample jobs packed up to ``batch_size`` windows; other jobs alone or in small runs."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.group_key(), []).append(job)
    tasks: list[list[Job]] = []
    for key, members in groups.items():
        if key[0] == "sample":
            per = max(1, batch_size // members[0].segments)
        elif key[0] in ("render", "show"):
            per = 1  # renders and pictures are slow and independent: spread them over every worker
        else:
            per = OTHER_PER_TASK
        tasks.extend(members[i : i + per] for i in range(0, len(members), per))
    return tasks
