"""What dbt puts in a model's Jinja context beyond sqlfluff's dbt builtins, for linting without a compile.

sqlfluff's jinja templater renders models/ and macros/ with this package's names in the context (library_path in
.sqlfluff) and the project's macros loaded. Nothing here connects to a warehouse:

- ``adapter.dispatch('name')`` finds the project's ``duckdb__name`` or ``default__name`` macro, as dbt does on
  DuckDB; relation and column look-ups find nothing.
- ``dbt.<macro>(…)`` (dbt's cross-database macros: dateadd, datediff, split_part, …) renders as the SQL call of
  the same name over its arguments, which parses like the real expansion.
- ``run_query`` returns no rows (models that read the warehouse at compile time lint their empty branch).
- ``target`` is the DuckDB profile; ``model`` and ``config`` answer the look-ups the incremental macros make with empty configuration.
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context


def _call(name: str, *args: Any, **kwargs: Any) -> str:
    return f"{name}({', '.join(str(a) for a in [*args, *kwargs.values()])})"


class _Adapter:
    @pass_context
    def dispatch(self, context, name: str, macro_namespace: str | None = None):
        for candidate in (f"duckdb__{name}", f"default__{name}"):
            macro = context.get(candidate)
            if macro is not None:
                return macro
        return lambda *args, **kwargs: _call(name, *args, **kwargs)

    def get_relation(self, *args: Any, **kwargs: Any) -> None:
        return None

    def get_columns_in_relation(self, *args: Any, **kwargs: Any) -> list:
        return []

    def convert_type(self, *args: Any, **kwargs: Any) -> str:
        return "varchar"

    def add_query(self, *args: Any, **kwargs: Any) -> None:
        return None


class _CrossDatabase:
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: _call(name, *args, **kwargs)

    def listagg(self, measure: str, delimiter_text: str = "','", order_by_clause: str | None = None,
                limit_num: int | None = None) -> str:
        return f"string_agg({measure}, {delimiter_text} {order_by_clause or ''})"


class _Table:
    """What ``run_query`` returns when nothing runs: no rows, one empty column."""

    class _Column(list):
        def values(self) -> list:
            return list(self)

    columns = [_Column()]
    rows: list = []


def run_query(sql: str = "") -> _Table:
    return _Table()


class _Config(dict):
    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return ""


class _Model:
    config: dict = {}
    unique_id = "model.telemetry.linted"
    name = "linted"


adapter = _Adapter()
dbt = _CrossDatabase()
config = _Config()
model = _Model()


class _Target:
    type = "duckdb"
    name = "dev"
    schema = "main"
    database = "warehouse"
    threads = 1


target = _Target()
