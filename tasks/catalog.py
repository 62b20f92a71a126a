"""Entry point ``lensbench.tasks``: every v1 task of LensBench."""

from __future__ import annotations

from lensbench.specs import TaskSpec
from lensbench.tasks import anomaly
from lensbench.tasks import domain_shift
from lensbench.tasks import lens_finding
from lensbench.tasks import regression
from lensbench.tasks import substructure


def specs() -> list[TaskSpec]:
    return [*substructure.specs(), *regression.specs(), *anomaly.specs(), *domain_shift.specs(),
            *lens_finding.specs()]
