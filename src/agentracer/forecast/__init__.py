"""Early error forecasting: read a run step by step and raise an alarm at the decisive error
before the run ends. `online` holds the forecaster interface and the step-by-step driver,
`metrics` the alarm step accuracy, η (the share of the log read at the alarm) and false alarms.
"""
