"""(to be written)"""
HEADER = ("the claim", "measured", "verdict")
CLAIMS = []
