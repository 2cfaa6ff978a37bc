"""Cluster metadata model and its stores, partitions and replica management."""
