"""Planning domain: department and joint plans (联合抽查计划), batches and publication."""
