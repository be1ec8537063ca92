"""Graph collaborative filtering and graph contrastive models."""
