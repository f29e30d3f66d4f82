"""email-router: a replacement for the Microsoft Dynamics CRM E-mail Router, speaking EWS via exchangelib."""

__version__ = "0.1.0"
