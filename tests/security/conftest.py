from tests.adminkit import api_token, fast_argon2, make_user, operator  # noqa: F401 - fixtures
