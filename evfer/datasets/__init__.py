"""Dataset readers (CK+, NEFER, synthetic faces), labels, splits, balancing and the voxel cache."""
