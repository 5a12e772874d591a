"""Video: frames from files, cameras and streams; face tracks across them (FaceLens.video)."""
