"""What every domain's assets share: the monthly partitions and single-run backfills."""
import dagster as dg

from core.months import TIMEZONE, month_range
from core.settings import get_settings


def monthly_partitions() -> dg.MonthlyPartitionsDefinition:
    # end_offset=0: the current month appears only once it has ended (in Swedish time). The
    # schedule built from the job runs in the partitions' timezone.
    return dg.MonthlyPartitionsDefinition(start_date=get_settings().first_month, fmt="%Y-%m",
                                          timezone=TIMEZONE)


PARTITIONS = monthly_partitions()
# A range of months is one run: imports, dbt start-up and GE load are paid once.
SINGLE_RUN = dg.BackfillPolicy.single_run()
OWNERS = ["team:vardval-data"]


def partition_months(context: dg.AssetExecutionContext) -> list[str]:
    """The months of this run (one, or a backfill range)."""
    window = context.partition_key_range
    return month_range(window.start, window.end)


def check_outputs(context: dg.AssetExecutionContext):
    """After a step has yielded its checks' results month by month (AssetCheckEvaluation with a
    partition: AssetCheckResult has none), the outputs that tell Dagster each check has run."""
    outputs = {spec.key: name for name, spec in context.assets_def.check_specs_by_output_name.items()}
    for key in context.selected_asset_check_keys:
        yield dg.Output(None, output_name=outputs[key])
