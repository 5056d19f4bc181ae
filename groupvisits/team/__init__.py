"""The interprofessional team: who staffs each session, in which role, and time off."""
