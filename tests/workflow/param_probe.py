"""Every job's params and inputs under a list of config overrides, through Snakemake's own API.

Run as ``python param_probe.py WORKDIR OVERRIDES.json OUT.json``: for each override (a nested dict
merged over the workflow's config, as ``--config`` would be) it builds the full DAG (``forceall``) and
records, per job (rule and outputs), the params and the input files; Snakemake reruns a finished job
exactly when these change (its params and input triggers), or when an input's producer reruns.
One process, one Snakefile parse per override (~0.7 s): far cheaper than a dry run per key.
"""

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.enums import Quietness
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings


def jobs(workdir: Path, override: dict) -> dict[str, list]:
    """{"rule outputs": [params repr, inputs]} of every job of the default target."""
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        wf = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(config=override),
            snakefile=workdir / "Snakefile",
            workdir=workdir,
        )
        workflow = wf.dag(DAGSettings(forceall=True)).workflow_api._workflow
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True, nolock=True)
        workflow._build_dag()
        return {
            f"{job.rule.name} {' '.join(sorted(map(str, job.output)))}": [
                json.dumps(dict(job.params.items()), sort_keys=True, default=str),
                sorted(map(str, job.input)),
            ]
            for job in workflow.dag.jobs
        }


def main(workdir: str, overrides: str, out: str) -> None:
    results = []
    for override in json.loads(Path(overrides).read_text()):
        try:
            results.append(jobs(Path(workdir).resolve(), override))
        except Exception as exc:  # noqa: BLE001 - reported per override, the others still run
            results.append({"error": [f"{type(exc).__name__}: {exc}", []]})
    Path(out).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
