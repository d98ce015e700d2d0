"""Every output of a prediction: label maps, Slicer, DICOM SEG, probabilities, measurements, overlays, report."""
