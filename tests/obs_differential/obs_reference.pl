#!/usr/bin/perl
# The reference side of the differential suite: obs-build's own parsers (Build.pm read_config,
# Build::Docker::parse, Build::Rpm::parse) applied to the files the Python side names, with the
# fields the suite compares printed as JSON. Nothing here interprets a file itself: every value
# is what obs-build returns, so a difference is a difference between this project and OBS.
#
# Usage: perl obs_reference.pl OBS_BUILD_DIR < jobs.json > results.json
# jobs.json is a list of {"kind": "prjconf"|"dockerfile"|"spec", "file": PATH, "arch": ARCH,
# "config": PATH or null, "repository": NAME or null, "release": RELEASE or null}.

use strict;
use warnings;
use JSON::PP;

my $dir;
BEGIN {
  $dir = shift @ARGV or die "usage: $0 OBS_BUILD_DIR < jobs.json\n";
  unshift @INC, $dir;
}
use Build qw(:rpm :docker);
use Build::Docker;

sub lines_of {
  my ($file) = @_;
  open(my $fh, '<', $file) or die "$file: $!\n";
  my @lines = <$fh>;
  close $fh;
  chomp @lines;
  return @lines;
}

# OBS's source server puts "%define _repository NAME" in front of a project config before the
# scheduler and the build script read it; the same is done here when a job names a repository.
sub config_of {
  my ($job) = @_;
  my @lines = $job->{'config'} ? lines_of($job->{'config'}) : ();
  unshift @lines, "%define _repository $job->{'repository'}" if defined $job->{'repository'};
  return Build::read_config($job->{'arch'}, \@lines);
}

# Build args the way Build::Docker::parse collects them from the config: the last one wins.
sub docker_args {
  my ($cf) = @_;
  my %args;
  return \%args unless $cf->{'buildflags:dockerarg'};
  for (@{$cf->{'buildflags'} || []}) {
    $args{$1} = $2 if /^dockerarg:(.*?)=(.*)$/s;
  }
  return \%args;
}

sub prjconf {
  my ($job) = @_;
  my $cf = config_of({ %$job, 'config' => $job->{'file'} });
  return {
    'rawmacros' => $cf->{'rawmacros'},
    'buildflags' => $cf->{'buildflags'},
    'docker_args' => docker_args($cf),
    'release' => $cf->{'release'},
    'release_words' => $cf->{'release@'} || [ $cf->{'release'} ],
    'type' => $cf->{'type'},
    'substitute' => $cf->{'substitute'},
    'prefer' => $cf->{'prefer'},
    'support' => $cf->{'support'},
    'preinstall' => $cf->{'preinstall'},
  };
}

sub dockerfile {
  my ($job) = @_;
  my $cf = config_of($job);
  # No name invented from the tags: only #!BuildName is compared.
  $cf->{'__dockernoname'} = 1;
  $cf->{'buildrelease'} = $job->{'release'} if defined $job->{'release'};
  my $d = Build::Docker::parse($cf, $job->{'file'});
  return { 'error' => $d->{'error'} } if $d->{'error'};
  my @obs = grep {ref($_) && $_->{'project'} eq '_obsrepositories'} @{$d->{'path'} || []};
  return {
    'tags' => $d->{'containertags'} || [],
    'name' => $d->{'name'},
    'version' => $d->{'version'},
    'release' => $d->{'release'},
    'exclusive_arch' => $d->{'exclarch'},
    'exclude_arch' => $d->{'badarch'},
    'use_obs_repositories' => @obs ? JSON::PP::true : JSON::PP::false,
    'no_squash' => $d->{'nosquash'} ? JSON::PP::true : JSON::PP::false,
    'base' => $d->{'basecontainer'},
    'images' => [ map {substr($_, 10)} grep {/^container:/} @{$d->{'deps'} || []} ],
    'packages' => [ grep {!/^container:|^-/} @{$d->{'deps'} || []} ],
  };
}

sub spec {
  my ($job) = @_;
  my $cf = config_of($job);
  my $d = Build::Rpm::parse($cf, $job->{'file'});
  return { 'error' => $d->{'error'} } if $d->{'error'};
  return {
    'name' => $d->{'name'},
    'version' => $d->{'version'},
    'subpackages' => $d->{'subpacks'} || [],
    'build_requires' => $d->{'deps'} || [],
    'exclusive_arch' => $d->{'exclarch'},
    'exclude_arch' => $d->{'badarch'},
  };
}

my %kinds = ('prjconf' => \&prjconf, 'dockerfile' => \&dockerfile, 'spec' => \&spec);
my $json = JSON::PP->new->canonical->allow_nonref;
my $jobs = $json->decode(do { local $/; <STDIN> });
my @results;
for my $job (@$jobs) {
  my @warnings;
  local $SIG{'__WARN__'} = sub { push @warnings, join('', @_) };
  my $result = eval { $kinds{$job->{'kind'}}->($job) };
  $result = { 'error' => "$@" } unless $result;
  $result->{'warnings'} = \@warnings;
  push @results, $result;
}
print $json->encode(\@results), "\n";
