"""Development only, not installed by the RPM: the checkout's repository, harnesses, demo."""
