"""Classical forecasters run beside the network: naive, seasonal naive, drift, ETS and ARIMA."""
