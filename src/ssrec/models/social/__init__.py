"""Social recommenders: models that read the user–user links (``data.social``) as well as the
interactions. Their model-specific graph maths (MHCN's motif matrices, SEPT's views) lives here;
generic pieces (sparse normalisation, the social graph, edge dropout) are shared."""
