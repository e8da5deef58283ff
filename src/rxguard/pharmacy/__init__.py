"""The pharmacy: catalog and medication guides, prescription-gated ordering, the pharmacist queue, accounts."""
