"""The arq worker: outbox relay and sweeper, the job that runs outbox rows, crons."""
