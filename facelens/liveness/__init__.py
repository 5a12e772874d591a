"""Liveness: is the face in front of the camera a live person, or a photo, screen or replay?"""
