from cutover_kit.migrations import run_env
from cutover_scheduler.adapters.tables import metadata

run_env(metadata)
