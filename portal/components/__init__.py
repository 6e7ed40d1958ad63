"""Reusable NiceGUI pieces: the frame with role navigation, badges, money labels."""
