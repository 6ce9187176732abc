"""One module per application: wires data, model, loss and metrics to the Trainer and the CLI."""
