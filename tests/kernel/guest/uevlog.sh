#!/bin/sh
# Run by busybox `uevent` for every kernel uevent: append one line.
echo "$ACTION $DEVPATH TRIGGER=$TRIGGER" >>/tmp/uevents
