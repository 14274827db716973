from cutover_accounts.adapters.tables import metadata
from cutover_kit.migrations import run_env

run_env(metadata)
