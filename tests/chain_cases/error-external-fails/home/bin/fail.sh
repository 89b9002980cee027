#!/bin/sh
echo 'SECRET-STDOUT'
echo 'login expired, run sso login' >&2
exit 3
