"""A FastAPI service's database, made as that service makes it (docs/api.md §22): its tables and
columns, naive timestamps, and hashes from the libraries it used (passlib's Argon2, bcrypt)."""

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import bcrypt
from passlib.context import CryptContext

PASSLIB = CryptContext(schemes=["argon2"])

SCHEMA = """
CREATE TABLE {table} (
    id INTEGER PRIMARY KEY, username VARCHAR(50) UNIQUE NOT NULL, name VARCHAR(100) NOT NULL,
    email VARCHAR(100) UNIQUE NOT NULL, phone VARCHAR(20) UNIQUE, hashed_password VARCHAR(255) NOT NULL,
    avatar VARCHAR(255), is_active BOOLEAN NOT NULL, failed_login_attempts INTEGER NOT NULL,
    locked_until TIMESTAMP, created_at TIMESTAMP NOT NULL, deleted_at TIMESTAMP
)"""
TOKENS = """
CREATE TABLE personal_access_tokens (
    id INTEGER PRIMARY KEY, token VARCHAR(500) UNIQUE NOT NULL, name VARCHAR(100), user_id INTEGER REFERENCES users(id),
    admin_id INTEGER REFERENCES admins(id), last_used_at TIMESTAMP, expires_at TIMESTAMP, created_at TIMESTAMP NOT NULL
)"""

ROLE_SCHEMA = (  # as the FastAPI service's models make its roles (resource:action permissions)
    "CREATE TABLE roles (id INTEGER PRIMARY KEY, name VARCHAR(50) UNIQUE NOT NULL, description VARCHAR(255),"
    " is_active BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE permissions (id INTEGER PRIMARY KEY, name VARCHAR(100) UNIQUE NOT NULL, description VARCHAR(255))",
    "CREATE TABLE role_permissions (role_id INTEGER REFERENCES roles(id), permission_id INTEGER REFERENCES"
    " permissions(id), PRIMARY KEY (role_id, permission_id))",
    "CREATE TABLE admin_roles (admin_id INTEGER REFERENCES admins(id), role_id INTEGER REFERENCES roles(id),"
    " PRIMARY KEY (admin_id, role_id))",
)


def argon2(password: str) -> str:
    return PASSLIB.hash(password)


def bcrypt_hash(password: str, prefix: str = "$2b$") -> str:
    """As bcrypt < 5 made them: only the first 72 bytes of the password count."""
    hashed = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    return prefix + hashed[4:]


@dataclass
class Source:
    users: list[dict[str, Any]] = field(default_factory=list)
    admins: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)  # none: a source from before roles
    permissions: list[dict[str, Any]] = field(default_factory=list)
    role_permissions: list[dict[str, Any]] = field(default_factory=list)
    admin_roles: list[dict[str, Any]] = field(default_factory=list)

    def role(self, id: int, name: str, grants: list[str], holders: list[int], **extra: Any) -> None:
        """A role with these permission names (made as needed) held by these admin ids."""
        self.roles.append({"id": id, "name": name, "description": f"{name} role", "is_active": True,
                           "created_at": datetime(2024, 5, 1), **extra})  # fmt: skip
        for grant in grants:
            known = {p["name"]: p["id"] for p in self.permissions}
            if grant not in known:
                known[grant] = len(self.permissions) + 1
                self.permissions.append({"id": known[grant], "name": grant, "description": grant})
            self.role_permissions.append({"role_id": id, "permission_id": known[grant]})
        self.admin_roles.extend({"admin_id": admin, "role_id": id} for admin in holders)

    def account(self, table: str, id: int, username: str, password_hash: str, **extra: Any) -> dict[str, Any]:
        row = {
            "id": id, "username": username, "name": username.title(), "email": f"{username}@example.com",
            "phone": None, "hashed_password": password_hash, "avatar": None, "is_active": True,
            "failed_login_attempts": 0, "locked_until": None, "created_at": datetime(2024, 5, 1, 12, 30, id % 60),
            "deleted_at": None, **extra,
        }  # fmt: skip
        getattr(self, table).append(row)
        return row

    def token(self, id: int, token: str, **extra: Any) -> None:
        self.tokens.append({
            "id": id, "token": token, "name": f"token {id}", "user_id": None, "admin_id": None,
            "last_used_at": None, "expires_at": datetime.utcnow() + timedelta(days=30),
            "created_at": datetime(2024, 6, 1, 8, 0, 0), **extra,
        })  # fmt: skip

    def write(self, connection: Any, placeholder: str = "?") -> None:
        cursor = connection.cursor()
        for table in ("users", "admins"):
            cursor.execute(SCHEMA.format(table=table))
        cursor.execute(TOKENS)
        cursor.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")  # other tables are ignored
        if self.roles:
            for statement in ROLE_SCHEMA:
                cursor.execute(statement)
        tables = (
            ("users", self.users), ("admins", self.admins), ("personal_access_tokens", self.tokens),
            ("roles", self.roles), ("permissions", self.permissions), ("role_permissions", self.role_permissions),
            ("admin_roles", self.admin_roles),
        )  # fmt: skip
        for table, items in tables:
            for item in items:
                columns = ", ".join(item)
                marks = ", ".join([placeholder] * len(item))
                cursor.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(item.values()))
        connection.commit()

    def sqlite(self, path: str) -> str:
        connection = sqlite3.connect(path)
        self.write(connection)
        connection.close()
        return f"sqlite:///{path}"
