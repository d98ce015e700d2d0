"""Reading studies and writing results with their exact geometry."""
