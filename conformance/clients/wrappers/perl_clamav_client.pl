#!/usr/bin/perl
# Scans one file with the CPAN/Debian module ClamAV::Client (apt-get install
# libclamav-client-perl) for the conformance harness, the way its POD shows it:
# ClamAV::Client->new(socket_host, socket_port), then scan_path() (clamd reads the file;
# the default) or, with --stream, scan_stream() on an open handle (what a mail filter does
# with a message it holds). It reports what the module says and does not fix its bugs:
# no timeout is added, since the module has none (CLAMD-CLIENT-10).
#
# Prints `FILE: OK` (exit 0), `FILE: NAME FOUND` (exit 1) or `ERROR: ...` (exit 2), as
# clamdscan does. Without the module it exits 3, which no verdict rule of the profile
# accepts: a missing module must never pass the cases that expect an error.
#
# Usage: perl_clamav_client.pl [--stream] HOST PORT FILE
use strict;
use warnings;
use File::Spec;

my $stream = @ARGV && $ARGV[0] eq '--stream' ? shift @ARGV : 0;
die "usage: $0 [--stream] HOST PORT FILE\n" unless @ARGV == 3;
my ($host, $port, $file) = @ARGV;

unless (eval { require ClamAV::Client; 1 }) {
    print "NOT INSTALLED: the perl module ClamAV::Client is missing "
        . "(apt-get install -y libclamav-client-perl)\n";
    exit 3;
}

# The module throws ClamAV::Client::Error (Error.pm) objects; IO errors die as strings.
my ($virus, $err);
eval {
    my $scanner = ClamAV::Client->new(socket_host => $host, socket_port => $port);
    if ($stream) {
        open(my $handle, '<:raw', $file) or die "cannot open $file: $!\n";
        $virus = $scanner->scan_stream($handle);
    } else {
        # scan_path() wants an absolute path (its POD); it returns (path, virus or undef).
        (undef, $virus) = $scanner->scan_path(File::Spec->rel2abs($file));
    }
    1;
} or $err = $@ || 'unknown error';

if (defined $err) {
    my $text = ref $err && $err->can('text') ? $err->text : "$err";
    $text =~ s/\s+\z//;
    print "ERROR: $text\n";
    exit 2;
}
if (defined $virus) {
    print "$file: $virus FOUND\n";
    exit 1;
}
print "$file: OK\n";
exit 0;
