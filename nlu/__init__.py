"""The Rasa project (config, domain, training data, answers) and the gateway's side of NLU: the
async
HTTP client, training and serving helpers, language detection. Nothing here imports ``rasa``: Rasa
runs
as its own process from ``.venv-rasa``."""
