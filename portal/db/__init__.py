"""Database: models, configuration, migrations."""
