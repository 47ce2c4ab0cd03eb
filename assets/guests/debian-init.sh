#!/bin/busybox sh
# /init of Hangar's Debian guest (the kernel runs it as PID 1 from the initramfs).
# The applet links are made here (busybox --install -s) because the riscv64 busybox cannot be
# run on the host that builds the initramfs to ask it for its applet list.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
# Debian's order: programs from packages (/usr/sbin/mke2fs) before busybox's applet links (/sbin/mke2fs).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
hostname -F /etc/hostname
# The VM's identity (a clone gets a fresh one), given by Hangar on the kernel command line.
machine_id=$(sed -n 's/.*hangar\.machine_id=\([0-9a-f]\{32\}\).*/\1/p' /proc/cmdline)
[ -n "$machine_id" ] && echo "$machine_id" > /etc/machine-id
# Modules in dependency order, listed when the initramfs was built; or, with
# hangar.modules=a,b on the kernel command line, only those and what they need (modprobe reads
# modules.dep): loading ext4 alone takes seconds under emulation, a guest may not need it.
only=$(sed -n 's/.*hangar\.modules=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$only" ]; then
  for module in $(echo "$only" | tr , ' '); do
    modprobe "$module" || echo "init: modprobe $module failed"
  done
else
  while read -r module; do
    insmod "/lib/modules/$(uname -r)/$module" || echo "init: insmod $module failed"
  done < /etc/modules-load-order
fi
# The network: with a NIC (virtio-net, eth0), a lease from the DHCP server of Hangar's NAT
# (10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3) before the prompt; udhcpc then stays in the
# background to renew it (and gives up waiting after 5 tries of 1 s, going on in the background).
ifconfig lo 127.0.0.1 up
if [ -e /sys/class/net/eth0 ]; then
  cat > /etc/udhcpc.script <<'SCRIPT'
#!/bin/sh
# udhcpc's hook (busybox: $interface, $ip, $subnet, $router, $dns, $mtu).
case "$1" in
  deconfig) ifconfig "$interface" 0.0.0.0 up ;;
  bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" ${mtu:+mtu "$mtu"} up
    while route del default dev "$interface" 2>/dev/null; do :; done
    for gateway in $router; do route add default gw "$gateway" dev "$interface"; done
    : > /etc/resolv.conf
    for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done ;;
esac
SCRIPT
  chmod +x /etc/udhcpc.script
  udhcpc -i eth0 -s /etc/udhcpc.script -b -t 5 -T 1
fi
# The guest agent (engine/guests/hangar-agent.sh) on the virtio-console, for `hangar vm exec`
# and `vm cp`, started again should it end. Not a session leader, so hvc0 never becomes the
# controlling terminal of the commands it runs.
if [ -c /dev/hvc0 ]; then
  while true; do
    hangar-agent /dev/hvc0
    sleep 1
  done &
fi
# Kernel messages below errors stay in dmesg and off the console, as on Debian (procps'
# 10-console-messages.conf: kernel.printk = 4 4 1 7): a late warning (an hrtimer interrupt that
# took long on a busy host) would otherwise land in the middle of a command's output.
echo "4 4 1 7" > /proc/sys/kernel/printk
cd /root
# cttyhack finds the real console terminal (ttyS0) so the shell has job control; when the
# shell exits another starts, since PID 1 must not exit.
while true; do
  setsid cttyhack sh
done
