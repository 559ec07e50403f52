"""Protocol adapters: each turns its wire format into rows and outputs into its responses."""
