#!/bin/sh
echo 'some banner'
printf '{"mode":"StsToken","access_key_id":"STS.ext","access_key_secret":"%s","sts_token":"ext-token"}\n' "$1"
