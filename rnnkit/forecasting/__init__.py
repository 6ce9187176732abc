"""Forecasting beside the network: the classical baselines (naive, seasonal naive, drift, ETS, ARIMA),
the network's input windows, rolling-origin backtests and forecast figures."""
