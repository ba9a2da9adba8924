"""Building blocks of fixtures that more than one test folder uses (the fixtures stay in conftest files)."""
