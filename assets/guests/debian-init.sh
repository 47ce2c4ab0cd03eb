#!/bin/busybox sh
# /init of Hangar's Debian guest (the kernel runs it as PID 1 from the initramfs).
# The applet links are made here (busybox --install -s) because the riscv64 busybox cannot be
# run on the host that builds the initramfs to ask it for its applet list.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
hostname -F /etc/hostname
# Modules in dependency order, listed when the initramfs was built.
while read -r module; do
  insmod "/lib/modules/$(uname -r)/$module" || echo "init: insmod $module failed"
done < /etc/modules-load-order
cd /root
# cttyhack finds the real console terminal (ttyS0) so the shell has job control; when the
# shell exits another starts, since PID 1 must not exit.
while true; do
  setsid cttyhack sh
done
