"""sql/mysql_schema.sql and the ORM describe the same schema: both are created on a real
MariaDB/MySQL server, in two databases, and their reflected schemas compared. Without a server,
the DDL file is still read and its tables, columns and indexes held against the ORM's."""

import re
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from app.catalog.models import Base

DDL = Path(__file__).resolve().parents[1] / "sql" / "mysql_schema.sql"


def _statements(sql: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _describe(url: str) -> dict:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        schema = {}
        for table in sorted(inspector.get_table_names()):
            columns = [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("autoincrement"))
                for c in inspector.get_columns(table)
            ]
            indexes = sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            )
            uniques = sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table))
            foreign = sorted(
                (
                    f["name"],
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                    (f.get("options") or {}).get("ondelete"),
                )
                for f in inspector.get_foreign_keys(table)
            )
            options = inspector.get_table_options(table)
            schema[table] = {
                "columns": columns,
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": indexes,
                "uniques": uniques,
                "foreign_keys": foreign,
                "options": {
                    k: v for k, v in options.items() if k in ("mysql_engine", "mysql_default charset", "mysql_collate")
                },
            }
        return schema
    finally:
        engine.dispose()


def test_ddl_file_matches_the_orm_on_a_real_server(mysql_database):
    orm_url, ddl_url = mysql_database("orm"), mysql_database("ddl")
    engine = create_engine(orm_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    engine = create_engine(ddl_url)
    with engine.begin() as conn:
        for statement in _statements(DDL.read_text()):
            conn.execute(text(statement))
    engine.dispose()

    orm, ddl = _describe(orm_url), _describe(ddl_url)
    assert set(orm) == {
        "tracks",
        "listening_events",
        "mood_events",
        "mood_responses",
        "listening_daily",
        "listening_session_days",
        "mood_hourly",
        "listener_sessions",
    }
    assert orm == ddl


def _ddl_tables(sql: str) -> dict[str, list[tuple[str, bool]]]:
    """Table -> [(column, nullable)] in the order the DDL file declares them."""
    tables = {}
    for statement in _statements(sql):
        match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)[^)]*$", statement, re.S)
        if not match:
            continue
        columns = []
        for raw in match.group(2).splitlines():
            line = raw.strip().rstrip(",")
            if line and not re.match(r"(PRIMARY KEY|CONSTRAINT|UNIQUE|KEY|INDEX)\b", line):
                name, rest = line.split(None, 1)
                columns.append((name, "NOT NULL" not in rest.upper()))
        tables[match.group(1)] = columns
    return tables


def test_ddl_file_declares_the_orm_tables_columns_and_indexes():
    sql = DDL.read_text()
    orm = {
        name: [(c.name, bool(c.nullable) and not c.primary_key) for c in table.columns]
        for name, table in Base.metadata.tables.items()
    }
    assert _ddl_tables(sql) == orm
    ddl_indexes = set(re.findall(r"CREATE INDEX (\w+) ON (\w+) \(([^)]*)\)", sql))
    orm_indexes = {
        (index.name, table.name, ", ".join(c.name for c in index.columns))
        for table in Base.metadata.tables.values()
        for index in table.indexes
    }
    assert ddl_indexes == orm_indexes
