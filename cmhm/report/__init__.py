"""The paper's tables and figures, and the numbers quoted from publications."""
