"""Model versions: the registry's versions and aliases, naming rules, alias history, rollback checks, access audit."""
