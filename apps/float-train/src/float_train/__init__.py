"""float-train: train FLOAT's two stages (motion auto-encoder, flow-matching transformer), export a bundle."""
