"""crisislab: strategic escalation crises as games of incomplete information.

Data flows one way: scenario -> compiled game -> solution (policies) -> simulation -> analysis -> report.
"""

__version__ = "0.1.0"
