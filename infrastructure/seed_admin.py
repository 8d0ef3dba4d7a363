"""Create the first admin of a deployed stack (or of any stack the AWS
environment points at): reads the password from GRIDPULSE_ADMIN_PASSWORD or
asks for it, never from the command line, and never prints it.

    USERS_TABLE=<stack output UsersTableName> python -m infrastructure.seed_admin admin@example.com
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("email")
    parser.add_argument("--name", default="GridPulse admin")
    args = parser.parse_args(argv)
    if not os.environ.get("USERS_TABLE"):
        parser.error("set USERS_TABLE to the stack's UsersTableName output")
    password = os.environ.get("GRIDPULSE_ADMIN_PASSWORD") or getpass.getpass("Admin password: ")

    from gridpulse.accounts.users import ensure_admin

    user, created = ensure_admin(args.email, password, name=args.name)
    print(f"{'created' if created else 'already exists'}: {user.email} ({user.user_id}, role {user.role})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
