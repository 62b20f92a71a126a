"""Entry point ``lensbench.tasks``: every v1 task of LensBench."""

from __future__ import annotations

from lensbench.specs import TaskSpec
from lensbench.tasks import anomaly, domain_shift, lens_finding, regression, substructure


def specs() -> list[TaskSpec]:
    return [*substructure.specs(), *regression.specs(), *anomaly.specs(), *domain_shift.specs(),
            *lens_finding.specs()]
