"""What operators use: failed jobs and their replay, the doctor, metrics export, retention."""
