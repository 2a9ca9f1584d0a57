"""The operations domain: the monthly job, the schedule for the previous month and the sensor on
the landing folder (SPEC §9)."""
import dagster as dg

from orchestration.defs.operations.jobs import monthly_job
from orchestration.defs.operations.schedules import monthly_schedule
from orchestration.defs.operations.sensors import landing_sensor

defs = dg.Definitions(jobs=[monthly_job], schedules=[monthly_schedule], sensors=[landing_sensor])
